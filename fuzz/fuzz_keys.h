/* SPDX-License-Identifier: MIT */
/*
 * fuzz_keys.h: the fixed test keys of the fuzz targets, one of each kind. Generated once
 * (node crypto); fuzz/gen_corpus.js reads this file to sign the seed tokens. TEST ONLY.
 */
#ifndef FUZZ_KEYS_H
#define FUZZ_KEYS_H

#define FZ_NOW 1700000000 /* opts.now of fuzz_jws; seed tokens are valid at this time */

#define FZ_JWK_HS256 "{\"kty\":\"oct\",\"kid\":\"fz-hs256\",\"alg\":\"HS256\",\"k\":\"c0BxAN7n-1nBiTbZP1e2cK-ERF8-AFtd2PFeLZdWWVw\"}"
#define FZ_JWK_RS256 "{\"kty\":\"RSA\",\"kid\":\"fz-rs256\",\"alg\":\"RS256\",\"n\":\"7Ql_bCoAbhQaR9xA9V_LzjbzT7x3eVnBlzuyLfx9nE8U5XtsoQ_5n485KC7mgEJLKZXskj4OIXMoCNhPsNyXdG84biTkOzNeFKlqjP7PHCC-k8UYxnHxg4EWSMIi1jMeKH9krrlVHSNjcp9v03EakA8XgMrHxEQStBWUHw5BG4tMP_BGzKXl2AOQLvJSHEbyq1AR_Q4WQIfRuBIG6YE5wltAcozGjK_qtZwG7xuqrs0fIRP2KWwxM341wNYgFOrMB4BaKYbkTAj-9sqeBGvy1XuRCS6GFE_QCAtB8kfBme2_mZ_rtSoNrmu8RgZqdLyuaJv6QugxMEl9FKqWbx5Trw\",\"e\":\"AQAB\",\"d\":\"AWvP7P5l7y9T-j1lDHYG4T8rGCA2X8dEI2f7mmuYMYHfQZXji5xHEBbC0Ki03WMSNdSx0cry_dD27qLzhiHHhXN_GjFWbjH49EYkrbRYKOyNBroWP_B9GeRuZDu-WldV9qUeHbkjCwn80M3iD-hREzj1LAoLMwfi_W-ROQIit1VlDWlHKDdV7tl10TOROJMa1aoKP8iucbsEO9Vdld88cIsxjS_rn8ywHJOwRgYXLW6WSuD5iOe6VnKHexcN_bEc65GsHTEO1S73AEMinSj4qwhV3pV1B_trWUjRrWLO6cFwU1XEF3XoKLAaYkRkMc9Q3iiCMPHdac-zIw6wMarwwQ\",\"p\":\"_A7CKcTM6YZOTlvLz7ejae-a3vSZA7J73VgmhnS-baOJCNeLYI4j5FRAtW6rjwaY2oXma1Pt9qZVLKpNvDzauMIAFvJ4804JRC4RehWeVqPETeXyLJucoCX25lgl7zj3wx0JqapJgQ_BYVv8gkC_DCcZmWdTNEcfr-MiweJ5Njc\",\"q\":\"8L6Yy0SR0maNITfi-fsuCvBDMD2tWyhCNHjwZBXN67zUdedthkB_p1XcETzxbiko0fwU0MajNR_w2bl3cpflE6EHyUSGNRhKyR68eos9SJiBJiwYHWUpTH4i3d_HnbBRcqkhwfHrbA6OsZOh3PInl3jxz_k3CPMQH_7TSzIyEkk\",\"dp\":\"KwmCEYuuyTjLagm2dRMP7eihcuwkrELvb0271j1cvm-r2Dylaakba8MPAWuSE2u28ajnPPAps3GXHXc-qqNhXSaSyVhBWpm6b0_GYCgMzxJLVFmszf0L8zRIQfBPGdeKRmBQ5A1VW5oLFMqWBM91T2flsRG5XTW_rVKE_sHinGU\",\"dq\":\"nP6OQbBbr-u0iT8aw45rvjJkfmcaT-H3GqTrjzkw6lRf8OuU3wHcvVEejBdEEmTA-_75zBRdhl1oAXQTUyV--8f9feEz7BgFXRawLvHyaw8Y2b3TlAfOYNW5AxvV3x2GX9Gv8_xBXFw57c-qtJ0t-Hekqc2JeEqZ72OMgvMe-BE\",\"qi\":\"dLjmViIH7pu2U8XqrVPVjS9XIFHNQp_FWl09wO098HAe1kWwFPgye0Hvpk6t0bvTrvV6f0PMGenIaY08Rdxd_EyjmJFIPeBpUrRItfKVpnmIoPdT7CkkStlZ9sNE5keGCdhVEItlTgFuuj2xLqN1VP_KUhnIyItGYT0OXL7Vn98\"}"
#define FZ_JWK_ES256 "{\"kty\":\"EC\",\"kid\":\"fz-es256\",\"alg\":\"ES256\",\"x\":\"KjnILAEpi9gCljny3WyvhYoN0XkcL3b4W3aNm5ffqEQ\",\"y\":\"LF9LYydv8hl4H5JMVVvPfR2ZUNaMtcusZRkfKY8zOjQ\",\"crv\":\"P-256\",\"d\":\"ozPWGk0iYoVVauKlw6CJe7Ar7Lbd5_IMAa55kxNl8Fc\"}"
#define FZ_JWK_EDDSA "{\"kty\":\"OKP\",\"kid\":\"fz-eddsa\",\"alg\":\"EdDSA\",\"crv\":\"Ed25519\",\"d\":\"TRw4IoOzWXu8VrLJnwV8XlG0cpM4hbYNO50SV2un2tk\",\"x\":\"y4TEW4TOOv7IxyoTs6EvKtpcuQCVrJAWIXaDhULge-k\"}"

#endif
