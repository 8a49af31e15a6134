"""Sequential order: the transactions in the order they arrived (0, 1, ..., n-1). Score 0 by
definition of the normalisation."""


def schedule(workload):
    return list(range(workload.num_txns))
