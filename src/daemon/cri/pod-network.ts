/**
 * The pods' network: one engine bridge network (`wharf-pods`), created on the first pod that needs
 * it, with its subnet from the engine's address pools or the pod CIDR that UpdateRuntimeConfig
 * set. Each pod's infra container gets an address on it (eth0), pods reach each other across the
 * bridge, and host ports are the engine's published ports (DNAT), as for `docker run -p`.
 */
import { isEngineError } from '../../lib/errors.js';
import type { CriEngine } from './engine.js';

export const POD_NETWORK = 'wharf-pods';
const POD_NETWORK_LABEL = 'io.wharf.cri.network';

export class PodNetwork {
  private creating?: Promise<string>;
  private podCidr = '';

  constructor(private readonly engine: CriEngine) {}

  /** The network's name, creating it when missing. */
  ensure(): Promise<string> {
    this.creating ??= this.create().finally(() => (this.creating = undefined));
    return this.creating;
  }

  /**
   * UpdateRuntimeConfig's pod CIDR: used when the network is created. An existing network keeps
   * its subnet (changing it would renumber running pods); the next daemon start with no pods left
   * could recreate it, which kubelet never asks for in practice.
   */
  async setPodCidr(cidr: string): Promise<void> {
    if (!cidr || cidr === this.podCidr) return;
    this.podCidr = cidr;
    try {
      const net = await this.engine.networks.inspect(POD_NETWORK, { verbose: false });
      const subnets = (net.IPAM.Config ?? []).map((c) => c.Subnet);
      if (!subnets.includes(cidr)) this.engine.log(`cri: pod CIDR ${cidr} applies to a new pod network; ${POD_NETWORK} keeps ${subnets.join(', ')}`);
    } catch (err) {
      if (!isEngineError(err, 'NotFound')) throw err;
    }
  }

  private async create(): Promise<string> {
    try {
      await this.engine.networks.inspect(POD_NETWORK, { verbose: false });
      return POD_NETWORK;
    } catch (err) {
      if (!isEngineError(err, 'NotFound')) throw err;
    }
    await this.engine.networks.create({
      Name: POD_NETWORK,
      Driver: 'bridge',
      Labels: { [POD_NETWORK_LABEL]: 'pods' },
      ...(this.podCidr ? { IPAM: { Config: [{ Subnet: this.podCidr }] } } : {}),
    });
    return POD_NETWORK;
  }
}
