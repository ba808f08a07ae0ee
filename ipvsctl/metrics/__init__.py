"""The Prometheus exporter (prometheus-client): the table's, health's and reconcile's metrics."""
