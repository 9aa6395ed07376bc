// Original file: proto/k8s.io/cri-api/pkg/apis/runtime/v1/api.proto


export interface ExecResponse {
  'url'?: (string);
}

export interface ExecResponse__Output {
  'url': (string);
}
