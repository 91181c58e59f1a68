//! Fetching alerts from the MDE API per tenant: tenants, secrets, tokens, rate limits (in progress).
