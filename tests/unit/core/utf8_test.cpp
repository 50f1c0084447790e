#include "core/utf8.hpp"

#include <string>

namespace utf8 = briefd::utf8;

TEST_CASE("utf8::invalid_at accepts RFC 3629 UTF-8 and finds the first bad byte") {
    CHECK(utf8::is_valid(""));
    CHECK(utf8::is_valid("plain ascii"));
    CHECK(utf8::is_valid("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf"));
    CHECK(utf8::invalid_at("ab\xff") == 2);
    CHECK(utf8::invalid_at("\x80") == 0);      // lone continuation byte
    CHECK(utf8::invalid_at("\xc0\xaf") == 0);  // overlong 2-byte
    CHECK(utf8::invalid_at("\xc1\xbf") == 0);
    CHECK(utf8::invalid_at("\xe0\x9f\xbf") == 0);      // overlong 3-byte
    CHECK(utf8::invalid_at("\xed\xa0\x80") == 0);      // surrogate U+D800
    CHECK(utf8::invalid_at("\xed\xbf\xbf") == 0);      // surrogate U+DFFF
    CHECK(utf8::invalid_at("\xf0\x8f\xbf\xbf") == 0);  // overlong 4-byte
    CHECK(utf8::invalid_at("\xf4\x90\x80\x80") == 0);  // above U+10FFFF
    for (int lead = 0xf5; lead <= 0xff; ++lead) {
        std::string s(1, static_cast<char>(lead));
        s += "\x80\x80\x80";
        CHECK(utf8::invalid_at(s) == 0);
    }
    CHECK(utf8::invalid_at("ok\xe2\x82") == 2);   // truncated at the end
    CHECK(utf8::invalid_at("ok\xe2\x82x") == 2);  // cut short by ASCII
}

TEST_CASE("utf8::repair replaces each maximal invalid subpart with one U+FFFD") {
    const std::string r = "\xef\xbf\xbd";
    CHECK(utf8::repair("fine \xc3\xa9") == "fine \xc3\xa9");
    CHECK(utf8::repair("bad\xffname.json") == "bad" + r + "name.json");
    CHECK(utf8::repair("\xe2\x82") == r);  // one subpart
    CHECK(utf8::repair("\xe2\x82x") == r + "x");
    CHECK(utf8::repair("\xed\xa0\x80") == r + r + r);  // surrogate: the lead's range excludes A0
    CHECK(utf8::repair("\xf0\x9f\x98") == r);
    CHECK(utf8::repair("\x80\x80") == r + r);
    // Whatever goes in, what comes out is valid.
    std::string all;
    for (int i = 0; i < 256; ++i)
        for (int j = 0x70; j < 0xc8; j += 7) {
            all += static_cast<char>(i);
            all += static_cast<char>(j);
        }
    CHECK(utf8::is_valid(utf8::repair(all)));
}

TEST_CASE("utf8::truncate never splits a character") {
    CHECK(utf8::truncate("abc", 5) == "abc");
    CHECK(utf8::truncate("ab\xe2\x82\xac", 4) == "ab");
    CHECK(utf8::truncate("ab\xe2\x82\xac", 5) == "ab\xe2\x82\xac");
    CHECK(utf8::truncate("\xff\xff\xff", 2) == "\xff\xff");  // invalid bytes count as one each
}
