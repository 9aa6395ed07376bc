// Original file: proto/k8s.io/cri-api/pkg/apis/runtime/v1/api.proto


export interface CheckpointContainerResponse {
}

export interface CheckpointContainerResponse__Output {
}
