package service

import (
	netv1alpha1 "knative.dev/networking/pkg/apis/networking/v1alpha1"
)

func readyIngressStatus() netv1alpha1.IngressStatus {
	s := netv1alpha1.IngressStatus{}
	s.InitializeConditions()
	s.MarkNetworkConfigured()
	s.MarkLoadBalancerReady(nil, nil)
	return s
}
