// Connect's types name the DOM's `HeadersInit`; @types/node declares fetch's
// `Headers` globally but not that alias, and this package does not load the DOM lib.
type HeadersInit = ConstructorParameters<typeof Headers>[0];
