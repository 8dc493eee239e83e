using Pipeline.ZooKeeper.Client;

namespace Pipeline.ZooKeeper.Tests.Protocol;

/// <summary>Connect strings (fact sheet §10 rule 8): "host1:port1,host2:port2/chroot/path".</summary>
public sealed class ConnectStringTests
{
    [Fact]
    public void A_host_without_a_port_gets_2181()
    {
        var parsed = ConnectString.Parse("zk1");

        Assert.Equal([new ServerAddress("zk1", 2181)], parsed.Servers);
        Assert.Null(parsed.Chroot);
        Assert.Equal(2181, ConnectString.DefaultPort);
    }

    [Fact]
    public void Several_hosts_keep_their_order_and_ports()
    {
        var parsed = ConnectString.Parse("zk1:2181,zk2:2182,10.0.0.3,zk4.example.com:1");

        Assert.Equal(
            [new ServerAddress("zk1", 2181), new ServerAddress("zk2", 2182), new ServerAddress("10.0.0.3", 2181), new ServerAddress("zk4.example.com", 1)],
            parsed.Servers);
        Assert.Null(parsed.Chroot);
    }

    [Theory]
    [InlineData("zk1:2181/app", "/app")]
    [InlineData("zk1:2181,zk2:2182/app/pipeline", "/app/pipeline")]
    [InlineData("zk1/app", "/app")]
    [InlineData("[::1]:2181/app", "/app")]
    [InlineData("zk1:2181/ü", "/ü")]
    public void The_chroot_starts_at_the_first_slash(string text, string chroot)
    {
        var parsed = ConnectString.Parse(text);
        Assert.Equal(chroot, parsed.Chroot);
        Assert.DoesNotContain(parsed.Servers, s => s.Host.Contains('/', StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("zk1:2181/")]
    [InlineData("zk1/")]
    [InlineData("zk1:2181,zk2:2182/")]
    public void A_chroot_of_slash_alone_is_no_chroot(string text)
    {
        Assert.Null(ConnectString.Parse(text).Chroot);
    }

    [Theory]
    [InlineData("zk1:2181/app/")]
    [InlineData("zk1:2181//app")]
    [InlineData("zk1:2181/app//x")]
    [InlineData("zk1:2181/app/.")]
    [InlineData("zk1:2181/app/../x")]
    public void An_invalid_chroot_is_refused(string text)
    {
        Assert.Throws<ArgumentException>(() => ConnectString.Parse(text));
    }

    [Theory]
    [InlineData(0x0000)]
    [InlineData(0x0007)]
    [InlineData(0x0085)]
    [InlineData(0xD800)]
    [InlineData(0xFFFF)]
    public void A_chroot_with_an_invalid_character_is_refused(int codeUnit)
    {
        Assert.Throws<ArgumentException>(() => ConnectString.Parse("zk1:2181/a" + (char)codeUnit + "b"));
    }

    [Theory]
    [InlineData("[::1]:2182", "::1", 2182)]
    [InlineData("[::1]", "::1", 2181)]
    [InlineData("[2001:db8::7]:2183", "2001:db8::7", 2183)]
    [InlineData("[fe80::1%eth0]:2181", "fe80::1%eth0", 2181)]
    public void Ipv6_addresses_go_in_brackets(string text, string host, int port)
    {
        Assert.Equal([new ServerAddress(host, port)], ConnectString.Parse(text).Servers);
    }

    [Fact]
    public void Ipv6_and_ipv4_mixed_with_a_chroot()
    {
        var parsed = ConnectString.Parse("[::1]:2181,127.0.0.1:2182,[2001:db8::2]/pipeline");

        Assert.Equal([new ServerAddress("::1", 2181), new ServerAddress("127.0.0.1", 2182), new ServerAddress("2001:db8::2", 2181)], parsed.Servers);
        Assert.Equal("/pipeline", parsed.Chroot);
    }

    [Fact]
    public void Whitespace_around_entries_and_empty_entries_are_ignored()
    {
        var parsed = ConnectString.Parse(" zk1:2181 , ,zk2 ");
        Assert.Equal([new ServerAddress("zk1", 2181), new ServerAddress("zk2", 2181)], parsed.Servers);
    }

    [Theory]
    [InlineData("zk1:0")]
    [InlineData("zk1:65536")]
    [InlineData("zk1:-1")]
    [InlineData("zk1:+2181")]
    [InlineData("zk1:abc")]
    [InlineData("zk1:")]
    [InlineData("zk1: 2181")]
    [InlineData("[::1")]
    [InlineData("[::1]:")]
    [InlineData("[::1]:x")]
    [InlineData("zk1:2181,zk2:99999")]
    public void Bad_ports_and_brackets_are_format_errors(string text)
    {
        Assert.Throws<FormatException>(() => ConnectString.Parse(text));
    }

    [Theory]
    [InlineData("::1")] // read as host ":" port 1
    [InlineData("fe80::1")] // read as host "fe80:" port 1
    [InlineData("2001:db8::2181")] // read as host "2001:db8:" port 2181
    [InlineData("[::1]9999")] // the text after ']' is ignored: port 2181
    [InlineData("[::1]x:2182")] // likewise
    [InlineData(":2181")] // empty host
    [InlineData("[]:2181")] // empty host
    public void Unbracketed_ipv6_text_after_the_bracket_and_empty_hosts_are_format_errors(string text)
    {
        Assert.Throws<FormatException>(() => ConnectString.Parse(text));
    }

    [Theory]
    [InlineData("/app")]
    [InlineData(",")]
    [InlineData(" , /app")]
    public void A_connect_string_with_no_server_is_a_format_error(string text)
    {
        Assert.Throws<FormatException>(() => ConnectString.Parse(text));
    }

    [Theory]
    [InlineData("")]
    [InlineData("   ")]
    public void An_empty_connect_string_is_an_argument_error(string text)
    {
        Assert.ThrowsAny<ArgumentException>(() => ConnectString.Parse(text));
    }

    [Fact]
    public void Null_is_an_argument_null_exception()
    {
        Assert.Throws<ArgumentNullException>(() => ConnectString.Parse(null!));
    }

    [Theory]
    [InlineData("zk1:2181,zk2:2182/app", "zk1:2181,zk2:2182/app")]
    [InlineData("zk1", "zk1:2181")]
    [InlineData("[::1]/x", "[::1]:2181/x")]
    [InlineData("zk1:2181/", "zk1:2181")]
    public void To_string_is_canonical_and_parses_back_to_the_same_value(string text, string canonical)
    {
        var parsed = ConnectString.Parse(text);

        Assert.Equal(canonical, parsed.ToString());
        var again = ConnectString.Parse(parsed.ToString());
        Assert.Equal(parsed.Servers, again.Servers);
        Assert.Equal(parsed.Chroot, again.Chroot);
    }

    [Fact]
    public void Client_options_report_an_invalid_chroot_as_an_argument_exception_on_connect_string()
    {
        var options = new ZooKeeperClientOptions { ConnectString = "zk1:2181/app/" };

        var error = Assert.Throws<ArgumentException>(options.Validate);
        Assert.Equal(nameof(ZooKeeperClientOptions.ConnectString), error.ParamName);
    }
}
