// Where the target serves JSON-RPC and rpc.py connects unless told otherwise
// (SPDK_DEFAULT_RPC_ADDR in include/spdk/init.h; rpc.py's -s default).
export const DEFAULT_RPC_SOCKET = '/var/tmp/spdk.sock';
