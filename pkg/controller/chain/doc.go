// Package chain holds integration tests (build tag integration) of the
// whole controller, as controller.New builds it for the process: every
// reconciler on one manager, against a real kube-apiserver. They follow a
// revision's failure and recovery from its Deployment and pods up through
// the Revision, the Configuration, the Route and the Service, which the
// suites of the single reconcilers only see one link of.
//
// This file only gives the directory a package outside the integration
// build, so that `go list ./...` (and hack/test.sh) finds the tests.
package chain
