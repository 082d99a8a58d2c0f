"""The call for proposals (FITN7 axe 3): dates, caps, strands, criteria, default forfaits."""
