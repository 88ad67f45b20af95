// test/kube: the in-process Kubernetes used by operator tests (see docs/testing-kube.md).
export * from './apiserver/index.js';
