// What a guest needs before it boots: a QEMU that speaks vfio-user and the guest image.
// Both are provisioned on first use and cached.
import { guestImage, type GuestImage } from '../../images/build.js';
import { locateQemu, qemuChoiceFromEnv, type QemuChoice } from '../qemu/locate.js';
import type { QemuInstall } from '../qemu/install.js';
import type { Progress } from '../progress.js';

export interface GuestParts {
  qemu: QemuInstall;
  image: GuestImage;
}

export async function provisionGuestParts(choice: QemuChoice, progress: Progress): Promise<GuestParts> {
  const env = qemuChoiceFromEnv();
  const qemu = await locateQemu({ qemu: choice.qemu ?? env.qemu, qemuGit: choice.qemuGit ?? env.qemuGit, qemuRef: choice.qemuRef ?? env.qemuRef }, progress);
  const image = await guestImage(progress);
  return { qemu, image };
}
