//! Binaries only: `demo` (the README's first command) and `bench` (`make bench`).
