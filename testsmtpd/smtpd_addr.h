/*
 * smtpd_addr - listen addresses: "ADDR:PORT" or "[ADDR6]:PORT" into a sockaddr, a bound address back
 * into that text, and the loopback test (127.0.0.0/8, ::1, ::ffff:127.0.0.0/104) that keeps testsmtpd
 * off the network unless --allow-remote.
 */
#ifndef SMTPD_ADDR_H
#define SMTPD_ADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

/* 0, or -EINVAL for anything but a numeric address and a port 0-65535 (0: any free port). */
int smtpd_addr_parse(const char *text, struct sockaddr_storage *ss, socklen_t *len);
void smtpd_addr_format(const struct sockaddr *sa, char *buf, size_t len);
bool smtpd_addr_is_loopback(const struct sockaddr *sa);

#endif
