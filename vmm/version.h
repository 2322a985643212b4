#ifndef MVM_VERSION_H
#define MVM_VERSION_H
#define MVM_VERSION "0.1.0"
#endif
