"""The proximity engine: live fences on users' fixes, arrival alerts to staff, promotions to users."""
