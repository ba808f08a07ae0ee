"""The director side: the pure planner, drains, the ownership record, the workflow, doctor."""
