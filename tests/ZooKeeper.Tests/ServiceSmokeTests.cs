using Pipeline.Testing;
using Pipeline.ZooKeeper.Client;

namespace Pipeline.ZooKeeper.Tests;

/// <summary>The ZooKeeper the tests use is real and healthy: every server answers ruok and reports its mode.</summary>
public sealed class ServiceSmokeTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task Every_server_answers_ruok_with_imok()
    {
        var services = await TestServices.GetAsync();
        foreach (var server in services.ZooKeeperServers)
        {
            Assert.Equal("imok", (await FourLetterWords.SendAsync(server, "ruok", Timeout)).Trim());
        }
    }

    [Fact]
    public async Task Srvr_reports_a_serving_mode()
    {
        var services = await TestServices.GetAsync();
        var modes = new List<string>();
        foreach (var server in services.ZooKeeperServers)
        {
            modes.Add(await FourLetterWords.GetModeAsync(server, Timeout));
        }

        Assert.All(modes, mode => Assert.Contains(mode, new[] { "standalone", "leader", "follower" }));
        Assert.True(modes.Count == 1 || modes.Count(m => m == "leader") == 1, $"an ensemble has exactly one leader: {string.Join(", ", modes)}");
    }

    [Fact]
    public async Task A_command_is_four_lower_case_letters()
    {
        var services = await TestServices.GetAsync();
        await Assert.ThrowsAsync<ArgumentException>(() => FourLetterWords.SendAsync(services.ZooKeeperServers[0], "RUOK!", Timeout));
    }

    [Theory]
    [InlineData("127.0.0.1:2182", "127.0.0.1", 2182)]
    [InlineData("zk1", "zk1", 2181)]
    [InlineData("[::1]:2183", "::1", 2183)]
    [InlineData("[::1]", "::1", 2181)]
    public void Host_and_port_parse_with_the_default_port_2181(string text, string host, int port)
    {
        Assert.Equal(new ServerAddress(host, port), ServerAddress.Parse(text));
    }
}
