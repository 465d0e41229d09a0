"""The operator pages: sign in, find a citizen, see and refresh their aggregated profile."""
