// Conformance suites for implementations of the core contracts.
export {};
