"""The roster of deputies and the phones bound to them."""
