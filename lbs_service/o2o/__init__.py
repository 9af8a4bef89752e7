"""The online-to-offline flow: campaigns and coupons, redemption at the till, orders for pickup and
their payments, stock, reviews after a visit, members and their tiers, rebates."""
