//! Binaries only: `demo` (the README's first command) and `bench` (`make bench`), plus the tests that run the
//! packaged Lambdas under a Runtime API. It owns the stories and the measurements; it must not hold logic the
//! Lambdas need, since nothing here ships.
