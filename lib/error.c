/* Error names and messages, generated from the tables in netlab/error.h. */
#include "internal.h"

const char *nl_strerror(int code)
{
    switch (code) {
    case 0:
        return "success";
#define NL__ERRNO_MSG(name, msg)                                                               \
    case NL_##name:                                                                            \
        return msg;
        NL_ERRNO_MAP(NL__ERRNO_MSG)
#undef NL__ERRNO_MSG
#define NL__OWN_MSG(name, value, msg)                                                          \
    case NL_##name:                                                                            \
        return msg;
        NL_OWN_ERR_MAP(NL__OWN_MSG)
#undef NL__OWN_MSG
    default:
        return "unknown error";
    }
}

const char *nl_err_name(int code)
{
    switch (code) {
    case 0:
        return "NL_SUCCESS";
#define NL__ERRNO_NAME(name, msg)                                                              \
    case NL_##name:                                                                            \
        return "NL_" #name;
        NL_ERRNO_MAP(NL__ERRNO_NAME)
#undef NL__ERRNO_NAME
#define NL__OWN_NAME(name, value, msg)                                                         \
    case NL_##name:                                                                            \
        return "NL_" #name;
        NL_OWN_ERR_MAP(NL__OWN_NAME)
#undef NL__OWN_NAME
    default:
        return "NL_UNKNOWN";
    }
}

const char *nl_version(void)
{
    return NL_VERSION_STRING;
}

/* Linux has EAGAIN == EWOULDBLOCK and ENOTSUP == EOPNOTSUPP; fold the aliases so callers only
 * ever see the codes in the table. An errno outside it still keeps its value (-errno). */
int nl__err(int errnum)
{
    if (errnum == EWOULDBLOCK)
        errnum = EAGAIN;
    if (errnum == EOPNOTSUPP)
        errnum = ENOTSUP;
    return errnum > 0 ? -errnum : NL_EIO;
}
