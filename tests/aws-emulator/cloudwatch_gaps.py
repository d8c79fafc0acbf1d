"""GetMetricData pagination, which moto 5.2.1 ignores.

moto answers GetMetricData with every datapoint at once and never returns a NextToken, so a
client's pagination loop can only ever be tested on a single page. Here ``MaxDatapoints``
bounds the datapoints of one answer across all queries, as in CloudWatch, and ``NextToken``
(an opaque offset) continues where the previous page stopped. A query whose datapoints go on
past the page is marked ``PartialData``.
"""

import base64

from moto.cloudwatch.exceptions import InvalidParameterValue
from moto.cloudwatch.responses import CloudWatchResponse
from moto.core.responses import ActionResult

DEFAULT_MAX_DATAPOINTS = 100_800  # CloudWatch's default (and maximum) page size

_get_metric_data = CloudWatchResponse.get_metric_data


def _response_get_metric_data(self: CloudWatchResponse) -> ActionResult:
    results = _get_metric_data(self).result["MetricDataResults"]
    size = self._get_int_param("MaxDatapoints") or DEFAULT_MAX_DATAPOINTS
    token = self._get_param("NextToken")
    try:
        start = int(base64.urlsafe_b64decode(token.encode()).decode()) if token else 0
    except ValueError:
        raise InvalidParameterValue("The service couldn't process the NextToken.") from None
    end = start + size

    paged, offset = [], 0
    for result in results:
        count = len(result["values"])
        first, last = min(max(start - offset, 0), count), min(max(end - offset, 0), count)
        paged.append(
            {
                **result,
                "values": result["values"][first:last],
                "timestamps": result["timestamps"][first:last],
                "status_code": "PartialData" if last < count else result["status_code"],
            }
        )
        offset += count
    next_token = base64.urlsafe_b64encode(str(end).encode()).decode() if end < offset else None
    return ActionResult({"MetricDataResults": paged, "NextToken": next_token})


def install() -> None:
    """Patch moto's CloudWatch responses."""
    CloudWatchResponse.get_metric_data = _response_get_metric_data
