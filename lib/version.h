#ifndef MVM_VERSION_H
#define MVM_VERSION_H
#define MVM_VERSION "0.1.0"
/* The Firecracker API level mvm answers for: what GET /version reports to SDKs. */
#define MVM_API_VERSION "1.10.0"
#endif
