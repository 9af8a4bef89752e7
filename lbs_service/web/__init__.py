"""Pages served by the app itself: no CDN, no third-party code committed."""
