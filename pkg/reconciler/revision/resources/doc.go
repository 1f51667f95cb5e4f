// Package resources holds the pure builders of the objects a Revision becomes:
// its Deployment (user containers + the queue sidecar), the private and public
// Services, the public Service's EndpointSlice (serve/proxy), and the KEDA
// ScaledObject. Each builder takes the Revision and a Config snapshot and
// returns objects; nothing here talks to the API. SCALING.md documents how
// Knative's autoscaling annotations map onto KEDA.
package resources
