/* json_test.c: json.c's selftest, built into rl_selftest only (not librayl). */
#include "http/json.c" /* the code under test, with its file-local helpers */

/* ---- selftest ---- */

#define S_CHECK(c) RL_CHECK_GOTO(c)

int rl_json_selftest(void) {
  rl_json_t j;
  size_t len;
  char *s = NULL;
  rl_json_init(&j);
  rl_json_obj(&j);
  rl_json_kstr(&j, "a", "x\"y\\z\n\x01\xc3\xa9\xff");
  rl_json_key(&j, "list");
  rl_json_arr(&j);
  rl_json_int(&j, -3);
  rl_json_num(&j, 1.5);
  rl_json_num(&j, NAN);
  rl_json_obj(&j);
  rl_json_kstr(&j, "b]", NULL);
  rl_json_end(&j);
  rl_json_arr(&j);
  rl_json_end(&j);
  rl_json_end(&j);
  rl_json_kbool(&j, "t", true);
  rl_json_end(&j);
  s = rl_json_take(&j, &len);
  S_CHECK(s && len == strlen(s));
  S_CHECK(!strcmp(s, "{\"a\":\"x\\\"y\\\\z\\n\\u0001\xc3\xa9\xef\xbf\xbd\",\"list\":[-3,1.5,null,{\"b]\":null},[]],"
                     "\"t\":true}"));
  free(s);
  /* Not UTF-8 (found by tools/fuzz/run json): a lead byte over 0xf4, an overlong form, a
   * surrogate, a code point over U+10FFFF; each of their bytes becomes U+FFFD. */
  rl_json_init(&j);
  rl_json_arr(&j);
  rl_json_str(&j, "\xff\x82\xac");
  rl_json_str(&j, "\xe0\x80\x80");
  rl_json_str(&j, "\xed\xa0\x80");
  rl_json_str(&j, "\xf4\x90\x80\x80\xf4\x8f\xbf\xbf");
  rl_json_end(&j);
  s = rl_json_take(&j, &len);
#define S_FFFD3 "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"
  S_CHECK(s && !strcmp(s, "[\"" S_FFFD3 "\",\"" S_FFFD3 "\",\"" S_FFFD3 "\",\"" S_FFFD3 "\xef\xbf\xbd\xf4\x8f\xbf\xbf\"]"));
#undef S_FFFD3
  free(s);
  /* The sequences kept: ASCII, 2 to 4 bytes; not a truncated one, a lone continuation
   * byte, an overlong form, a surrogate, or one past U+10FFFF. */
  S_CHECK(rl_json_utf8_len((const unsigned char *)"a", 1) == 1);
  S_CHECK(rl_json_utf8_len((const unsigned char *)"\xc3\xa9", 2) == 2);
  S_CHECK(rl_json_utf8_len((const unsigned char *)"\xe2\x82\xac", 3) == 3);
  S_CHECK(rl_json_utf8_len((const unsigned char *)"\xf4\x8f\xbf\xbf", 4) == 4);
  S_CHECK(rl_json_utf8_len((const unsigned char *)"\xe2\x82\xac", 2) == 0);
  S_CHECK(rl_json_utf8_len((const unsigned char *)"\x82", 1) == 0);
  S_CHECK(rl_json_utf8_len((const unsigned char *)"\xc0\xaf", 2) == 0);
  S_CHECK(rl_json_utf8_len((const unsigned char *)"\xed\xa0\x80", 3) == 0);
  S_CHECK(rl_json_utf8_len((const unsigned char *)"\xf4\x90\x80\x80", 4) == 0);
  rl_json_init(&j);
  rl_json_raw(&j, "m 1\n", 4);
  rl_json_rawf(&j, "%s %d\n", "n", 2);
  s = rl_json_take(&j, &len);
  S_CHECK(s && !strcmp(s, "m 1\nn 2\n"));
  free(s);
  return 0;
fail:
  free(s);
  return 1;
}
