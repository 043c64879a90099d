/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* g_autoptr() for the OpenSSL types libvsboot uses, defined once: cleanup on every path without
 * gotos. Private to libvsboot (not installed); no public header carries OpenSSL types. */
#pragma once

#include <glib.h>
#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pkcs7.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

G_DEFINE_AUTOPTR_CLEANUP_FUNC(X509, X509_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(X509_STORE, X509_STORE_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(X509_STORE_CTX, X509_STORE_CTX_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(X509_NAME, X509_NAME_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(X509_EXTENSION, X509_EXTENSION_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(PKCS7, PKCS7_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(EVP_PKEY, EVP_PKEY_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(EVP_PKEY_CTX, EVP_PKEY_CTX_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(EVP_MD_CTX, EVP_MD_CTX_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(BIO, BIO_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ASN1_OBJECT, ASN1_OBJECT_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ASN1_TYPE, ASN1_TYPE_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ASN1_STRING, ASN1_STRING_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(BIGNUM, BN_free)

/* A chain of BIOs (PKCS7_dataInit's), freed whole. */
typedef BIO VsbBioChain;
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VsbBioChain, BIO_free_all)

/* A STACK_OF(X509) that owns only the stack (PKCS7_get0_signers' result). */
typedef STACK_OF(X509) VsbX509Stack;
static inline void
vsb_x509_stack_free(VsbX509Stack *s)
{
  sk_X509_free(s);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VsbX509Stack, vsb_x509_stack_free)

/* Bytes OpenSSL allocated (i2d_* output). */
typedef unsigned char VsbOsslBytes;
static inline void
vsb_ossl_bytes_free(VsbOsslBytes *p)
{
  OPENSSL_free(p);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VsbOsslBytes, vsb_ossl_bytes_free)

/* Text OpenSSL allocated (BN_bn2hex, X509_NAME_oneline output). */
typedef char VsbOsslString;
static inline void
vsb_ossl_string_free(VsbOsslString *p)
{
  OPENSSL_free(p);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VsbOsslString, vsb_ossl_string_free)
