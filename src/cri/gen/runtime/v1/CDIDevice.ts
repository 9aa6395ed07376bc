// Original file: proto/k8s.io/cri-api/pkg/apis/runtime/v1/api.proto


export interface CDIDevice {
  'name'?: (string);
}

export interface CDIDevice__Output {
  'name': (string);
}
