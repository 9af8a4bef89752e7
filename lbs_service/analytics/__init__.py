"""Planner analytics: demand from users' whereabouts (coarse, anonymised) and coverage by stores."""
