"""The online-to-offline flow: coupons now; redemption, orders, reviews and tiers follow."""
