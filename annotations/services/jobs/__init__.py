"""Work for the Celery workers: how it leaves (dispatch) and how what an outage left is finished
(sweeps)."""
