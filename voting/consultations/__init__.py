"""Legislative opinion solicitation (立法意见征询): drafts article by article, opinions, contact points."""
