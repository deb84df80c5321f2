// The capability chain of our PCI function: Power Management, MSI-X and PCI Express
// (endpoint, FLR capable), laid out at fixed offsets with their writable bits.
import { CFG, ConfigSpace, STATUS_CAP_LIST } from './config-space.js';

export const CAP_ID_PM = 0x01;
export const CAP_ID_MSIX = 0x11;
export const CAP_ID_EXP = 0x10;

export const PM_OFFSET = 0x40;
export const MSIX_OFFSET = 0x50;
export const EXP_OFFSET = 0x60;

export const MSIX_CTRL_ENABLE = 1 << 15;
export const MSIX_CTRL_MASKALL = 1 << 14;
export const EXP_DEVCTL_FLR = 1 << 15;

export interface MsixLayout {
  vectors: number;
  tableBar: number;
  tableOffset: number;
  pbaBar: number;
  pbaOffset: number;
}

export function buildCapabilities(cfg: ConfigSpace, msix: MsixLayout): void {
  cfg.set16(CFG.STATUS, cfg.u16(CFG.STATUS) | STATUS_CAP_LIST);
  cfg.set8(CFG.CAP_PTR, PM_OFFSET);

  // Power Management (PCI PM 1.2): version 3, D0/D3hot via PMCSR bits 1:0, No_Soft_Reset.
  cfg.set8(PM_OFFSET, CAP_ID_PM);
  cfg.set8(PM_OFFSET + 1, MSIX_OFFSET);
  cfg.set16(PM_OFFSET + 2, 0x0003);
  cfg.set16(PM_OFFSET + 4, 0x0008);
  cfg.mask16(PM_OFFSET + 4, 0x0003);

  // MSI-X: Table Size is N-1; Function Mask and Enable are writable.
  cfg.set8(MSIX_OFFSET, CAP_ID_MSIX);
  cfg.set8(MSIX_OFFSET + 1, EXP_OFFSET);
  cfg.set16(MSIX_OFFSET + 2, (msix.vectors - 1) & 0x7ff);
  cfg.mask16(MSIX_OFFSET + 2, MSIX_CTRL_ENABLE | MSIX_CTRL_MASKALL);
  cfg.set32(MSIX_OFFSET + 4, msix.tableOffset | msix.tableBar);
  cfg.set32(MSIX_OFFSET + 8, msix.pbaOffset | msix.pbaBar);

  // PCI Express capability v2, endpoint.
  const e = EXP_OFFSET;
  cfg.set8(e, CAP_ID_EXP);
  cfg.set8(e + 1, 0x00);
  cfg.set16(e + 2, 0x0002); // version 2, device/port type 0 (PCIe endpoint)
  cfg.set32(e + 4, (1 << 28) | (1 << 15)); // DevCap: FLR, role-based error reporting; MPS 128
  cfg.set16(e + 8, 0x2810); // DevCtl: MRRS 512, relaxed ordering... as firmware leaves it
  cfg.mask16(e + 8, 0x7fff); // DevCtl writable; bit 15 (Initiate FLR) handled as an action
  cfg.set16(e + 10, 0);
  cfg.w1c16(e + 10, 0x000f); // DevSta error bits RW1C
  cfg.set32(e + 12, (4 << 4) | 3); // LinkCap: x4, 8 GT/s
  cfg.mask16(e + 16, 0x0fff); // LinkCtl
  cfg.set16(e + 18, (4 << 4) | 3); // LinkSta: x4 at 8 GT/s
  cfg.set32(e + 0x24, 0x0000001f); // DevCap2: completion timeout ranges A-D supported
  cfg.mask16(e + 0x28, 0x040f); // DevCtl2: completion timeout value/disable, LTR
  cfg.set16(e + 0x32, 0x0003); // LinkCap2 speeds (partial)
}
