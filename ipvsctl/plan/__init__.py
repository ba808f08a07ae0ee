"""What both roles share: the Plan of changes, the one executor and the one printer."""
