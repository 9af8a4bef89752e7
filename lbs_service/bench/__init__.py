"""`lbs bench`: our engines against PostGIS and Redis in the same run, on the same data."""
