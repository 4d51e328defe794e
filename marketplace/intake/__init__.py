"""Hotline and public reports: intake records triaged and routed to the community's director."""
