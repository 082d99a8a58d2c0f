"""Sign-in with ProConnect (R-AUTH-2): the identity of a public agent turned into a role and a
scope by mapping rules kept as data, and the service's own tokens. Above auth, reference,
candidates and budgets (it reads the préfecture SIRETs on the envelopes and the candidates)."""
