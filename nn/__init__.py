"""chainrule neural-network library."""
