"""Small helpers shared by every part of macca_hub (atomic writes, config <-> CLI, hashing)."""
