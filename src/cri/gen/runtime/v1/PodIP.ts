// Original file: proto/k8s.io/cri-api/pkg/apis/runtime/v1/api.proto


export interface PodIP {
  'ip'?: (string);
}

export interface PodIP__Output {
  'ip': (string);
}
