/* A small HTTP/1.1 client for mvm's own API socket (the CLI's snapshot and restore). */
#ifndef MVM_API_CLIENT_H
#define MVM_API_CLIENT_H

#include <stddef.h>
#include <sys/types.h>

struct api_client_resp {
	int status;
	char *body; /* NUL-terminated, may be empty; free() it */
};

/* One request on a fresh connection; 0 or -errno (the socket could not be used). */
int api_client_call(const char *sock, const char *method, const char *path, const char *body,
		    struct api_client_resp *resp);
/* The fault_message of an error body, or the body itself; into buf. */
const char *api_client_fault(const struct api_client_resp *resp, char *buf, size_t size);
/* The process on the other end of the socket. */
pid_t api_client_peer_pid(const char *sock);

#endif
