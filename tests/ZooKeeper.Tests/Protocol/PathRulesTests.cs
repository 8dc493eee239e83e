using Pipeline.ZooKeeper.Client;

namespace Pipeline.ZooKeeper.Tests.Protocol;

/// <summary>ZooKeeper's path rules (fact sheet §10 rule 10, PathUtils), checked on the client before a request is sent.</summary>
public sealed class PathRulesTests
{
    [Theory]
    [InlineData("/")]
    [InlineData("/a")]
    [InlineData("/a/b/c")]
    [InlineData("/zookeeper/quota")]
    [InlineData("/a.b")]
    [InlineData("/.a")]
    [InlineData("/a.")]
    [InlineData("/a/...")]
    [InlineData("/..a")]
    [InlineData("/a b")]
    [InlineData("/a-b_c:d@e=f")]
    [InlineData("/lock-0000000001")]
    [InlineData("/ü/日本/ß")]
    [InlineData("/\u007e")] // the last character before DEL
    [InlineData("/\u00a0")] // the first character after the C1 controls
    [InlineData("/\ud7ff")] // the last character before the surrogates
    [InlineData("/\uf900")] // the first character after the private use area
    [InlineData("/\uffef")] // the last character before the specials
    public void Valid_paths_pass(string path)
    {
        PathRules.Validate(path);
        PathRules.Validate(path, sequential: false);
    }

    [Theory]
    [InlineData("")]
    [InlineData("a")]
    [InlineData("a/b")]
    [InlineData(" /a")]
    [InlineData("/a/")]
    [InlineData("//")]
    [InlineData("//a")]
    [InlineData("/a//b")]
    [InlineData("/a/b//")]
    [InlineData("/.")]
    [InlineData("/..")]
    [InlineData("/./a")]
    [InlineData("/../a")]
    [InlineData("/a/.")]
    [InlineData("/a/..")]
    [InlineData("/a/./b")]
    [InlineData("/a/../b")]
    public void Invalid_paths_are_argument_exceptions(string path)
    {
        var error = Assert.Throws<ArgumentException>(() => PathRules.Validate(path));
        Assert.Equal("path", error.ParamName);
    }

    // Characters are given as code units: lone surrogates cannot travel in attribute strings (stored as UTF-8).
    [Theory]
    [InlineData(0x0000)]
    [InlineData(0x0001)]
    [InlineData('\t')]
    [InlineData('\n')]
    [InlineData(0x001F)]
    [InlineData(0x007F)]
    [InlineData(0x0080)]
    [InlineData(0x009F)]
    [InlineData(0xD800)]
    [InlineData(0xDBFF)]
    [InlineData(0xDC00)]
    [InlineData(0xDFFF)]
    [InlineData(0xE000)]
    [InlineData(0xF8FF)]
    [InlineData(0xFFF0)]
    [InlineData(0xFFFD)]
    [InlineData(0xFFFF)]
    public void Invalid_characters_are_refused_anywhere_in_a_segment(int codeUnit)
    {
        var c = (char)codeUnit;
        foreach (var path in new[] { "/" + c, "/a" + c + "b", "/a/" + c, "/a/b" + c })
        {
            var error = Assert.Throws<ArgumentException>(() => PathRules.Validate(path));
            Assert.Equal("path", error.ParamName);
        }
    }

    [Fact]
    public void A_surrogate_pair_is_refused_like_the_java_client_does()
    {
        Assert.Throws<ArgumentException>(() => PathRules.Validate("/emoji-😀"));
    }

    [Fact]
    public void Every_control_and_reserved_code_unit_is_refused_and_its_neighbours_are_not()
    {
        for (var c = 0; c <= 0xFFFF; c++)
        {
            if (c == '/' || c == '.')
            {
                continue;
            }

            var path = "/a" + (char)c;
            var invalid = c <= 0x1F || (c >= 0x7F && c <= 0x9F) || (c >= 0xD800 && c <= 0xF8FF) || c >= 0xFFF0;
            var threw = Record.Exception(() => PathRules.Validate(path)) is ArgumentException;
            Assert.True(invalid == threw, $"U+{c:X4}: expected {(invalid ? "invalid" : "valid")}.");
        }
    }

    [Theory]
    [InlineData("/q/")]
    [InlineData("/q/lock-")]
    [InlineData("/q")]
    [InlineData("/")]
    public void Sequential_paths_are_checked_with_a_1_appended_so_a_trailing_slash_is_allowed(string path)
    {
        PathRules.Validate(path, sequential: true);
    }

    [Theory]
    [InlineData("")]
    [InlineData("q/")]
    [InlineData("/q//")]
    [InlineData("/q/./")]
    [InlineData("/q/../")]
    public void Sequential_paths_still_follow_the_other_rules(string path)
    {
        Assert.Throws<ArgumentException>(() => PathRules.Validate(path, sequential: true));
    }

    [Fact]
    public void Sequential_paths_with_a_nul_are_refused()
    {
        Assert.Throws<ArgumentException>(() => PathRules.Validate("/q\u0000/", sequential: true));
    }

    [Fact]
    public void A_trailing_slash_is_only_allowed_for_sequential_creates()
    {
        Assert.Throws<ArgumentException>(() => PathRules.Validate("/q/"));
        PathRules.Validate("/q/", sequential: true);
    }

    [Fact]
    public void The_message_names_the_original_path_not_the_one_with_1_appended()
    {
        var error = Assert.Throws<ArgumentException>(() => PathRules.Validate("/q//", sequential: true));
        Assert.Contains("'/q//'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Null_is_an_argument_null_exception()
    {
        Assert.Throws<ArgumentNullException>(() => PathRules.Validate(null!));
    }

    [Theory]
    [InlineData("/a/b/c", "/a/b")]
    [InlineData("/a", "/")]
    [InlineData("/", "/")]
    public void Parent(string path, string parent)
    {
        Assert.Equal(parent, PathRules.Parent(path));
    }

    [Theory]
    [InlineData("/", "b", "/b")]
    [InlineData("/a", "b", "/a/b")]
    [InlineData("/a/b", "lock-0000000001", "/a/b/lock-0000000001")]
    public void Combine(string parent, string child, string path)
    {
        Assert.Equal(path, PathRules.Combine(parent, child));
    }
}
