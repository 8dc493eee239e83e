using System.Diagnostics;
using System.Net.Http.Headers;
using System.Text.Json;
using OpenQA.Selenium;
using Pipeline.Inventory;
using Pipeline.OrderService.Tests.Cluster;
using Pipeline.Testing;
using Xunit.Abstractions;

namespace Pipeline.OrderService.Tests.Dashboard;

/// <summary>
/// The dashboard in a real browser (Debian's headless Chromium through Selenium) against three replica processes: the page
/// a standby serves shows the leader and its token, the orders it decides and the queues; when the leader is killed, the
/// new leader and the history entry saying why appear on the same page without a reload. Nothing the page, its snapshot
/// stream or /status carry holds a configured password. In the replica cluster's collection: its three replicas and the
/// browser run while no other test's cluster works.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class DashboardBrowserTests(DashboardFixture fixture, ITestOutputHelper output) : IClassFixture<DashboardFixture>
{
    private static readonly TimeSpan PageLimit = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task The_page_of_a_standby_shows_the_leader_and_after_a_kill_the_new_leader_and_why_without_a_reload()
    {
        var cluster = fixture.Cluster;
        var before = await fixture.ReadyAsync();
        var standby = cluster.Replicas.First(r => r.Index != before.Index && r.IsRunning);
        var skus = new[] { "DASH-1", "DASH-2" };
        await InventoryDatabase.SeedStockAsync(fixture.Database.DataSource, skus, 1000);
        var orders = Workload.Mixed($"dash-{Guid.NewGuid().ToString("N")[..6]}", 40, skus, seed: 7);
        await fixture.Bus.PublishAllAsync(orders.Orders);
        await PipelineDb.WaitDecidedAsync(fixture.Database.DataSource, orders.Ids, TimeSpan.FromSeconds(60), fixture.Describe);

        using var browser = new HeadlessChromium();
        browser.Driver.Navigate().GoToUrl(standby.BaseAddress);
        await UntilAsync(browser, () => browser.Text("leader-node") == before.NodeId && browser.Text("leader-token") == before.Token.ToString(),
            $"the page on {standby.NodeId} to show {before.NodeId} leading with {before.Token}");
        await UntilAsync(browser, () => Led(browser, before.NodeId, before.Token.ToString()) is not null, $"the history to show {before.NodeId}'s leadership");
        await UntilAsync(browser, () => browser.Driver.FindElements(By.CssSelector("#decisions tbody tr")).Any(r => orders.Ids.Any(id => r.Text.Contains(id, StringComparison.Ordinal))),
            "the last decisions to show the orders just decided");
        Assert.Equal(DashboardFixture.Replicas, browser.Driver.FindElements(By.CssSelector("#candidates tbody tr")).Count);
        Assert.Contains("order-intake", browser.Text("queues"));
        Assert.Equal(standby.NodeId, browser.Text("replica-node"));

        // A marker in the page's window: a reload would lose it.
        browser.Script("window.pipelineDashboardTestMarker = arguments[0];", "still-the-same-page");
        var snapshotsBefore = Convert.ToInt64(browser.Script("return window.pipelineDashboard.snapshots;"), System.Globalization.CultureInfo.InvariantCulture);

        var clock = Stopwatch.StartNew();
        cluster.Kill(before.Index);
        var after = await cluster.LeaderAsync(newerThan: before.Token, timeout: TimeSpan.FromSeconds(60));
        await UntilAsync(browser, () => browser.Text("leader-node") == after.NodeId && browser.Text("leader-token") == after.Token.ToString(),
            $"the page to show the new leader {after.NodeId} with {after.Token}");
        var entry = await UntilAsync(browser, () => Led(browser, after.NodeId, after.Token.ToString()), $"the history entry of {after.NodeId}'s leadership");
        var seen = clock.Elapsed;

        output.WriteLine($"{before.NodeId} {before.Token} killed; {after.NodeId} leads with {after.Token}; on the page {seen.TotalMilliseconds:0} ms after the kill: " +
                         $"'{entry.Text}' (cause {entry.GetAttribute("data-cause")})");
        Assert.Contains(entry.GetAttribute("data-cause"), new[] { "expedited", "expired" }); // nobody resigned: the crash signal, or the session at worst
        Assert.Contains(before.NodeId, entry.Text, StringComparison.Ordinal); // "... led with T after <the killed leader>"
        Assert.Equal("still-the-same-page", browser.Script("return window.pipelineDashboardTestMarker;"));
        Assert.True(Convert.ToInt64(browser.Script("return window.pipelineDashboard.snapshots;"), System.Globalization.CultureInfo.InvariantCulture) > snapshotsBefore);
        await UntilAsync(browser, () => browser.Driver.FindElements(By.CssSelector("#candidates tbody tr")).Count == DashboardFixture.Replicas - 1,
            "the killed leader to leave the candidates");

        var screenshot = Path.Combine(cluster.LogDirectory, "dashboard.png");
        browser.Driver.GetScreenshot().SaveAsFile(screenshot);
        output.WriteLine($"screenshot: {screenshot}");
    }

    [Fact]
    public async Task Neither_the_page_nor_its_snapshots_nor_status_carry_a_configured_password()
    {
        var cluster = fixture.Cluster;
        await fixture.ReadyAsync();
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
        foreach (var replica in cluster.Replicas.Where(r => r.IsRunning))
        {
            var texts = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var path in new[] { "/", "/dashboard/dashboard.js", "/dashboard/dashboard.css", "/dashboard/state", "/status" })
            {
                texts[path] = await http.GetStringAsync(new Uri(replica.BaseAddress, path));
            }

            texts["/dashboard/events"] = await FirstEventAsync(http, new Uri(replica.BaseAddress, "/dashboard/events"));
            using (var snapshot = JsonDocument.Parse(texts["/dashboard/state"]))
            {
                Assert.Equal(replica.NodeId, snapshot.RootElement.GetProperty("replica").GetProperty("nodeId").GetString());
                Assert.NotEqual(JsonValueKind.Null, snapshot.RootElement.GetProperty("leader").ValueKind);
            }

            using (var browser = new HeadlessChromium())
            {
                browser.Driver.Navigate().GoToUrl(replica.BaseAddress);
                await UntilAsync(browser, () => browser.Text("leader-node") is { Length: > 0 } text && text != "…", $"the page on {replica.NodeId} to render");
                texts["rendered page"] = browser.Driver.PageSource;
            }

            foreach (var (where, text) in texts)
            {
                foreach (var password in fixture.Passwords)
                {
                    Assert.False(text.Contains(password, StringComparison.Ordinal), $"{replica.NodeId}'s {where} holds a configured password");
                }
            }
        }
    }

    [Fact]
    public async Task An_open_event_stream_does_not_hold_up_a_graceful_stop()
    {
        var cluster = fixture.Cluster;
        var leader = await fixture.ReadyAsync();
        using var http = new HttpClient { Timeout = Timeout.InfiniteTimeSpan };
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(cluster[leader.Index].BaseAddress, "/dashboard/events"));
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/event-stream"));
        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        response.EnsureSuccessStatusCode();

        // The stream is open and delivering; a stop must end it rather than wait for the shutdown timeout (20 s).
        var clock = Stopwatch.StartNew();
        var exit = await cluster.StopGracefullyAsync(leader.Index, TimeSpan.FromSeconds(15));
        output.WriteLine($"{leader.NodeId} stopped with {exit} {clock.ElapsedMilliseconds} ms after SIGTERM with a dashboard stream open");
        Assert.Equal(0, exit);
        await cluster.RestartStoppedAsync();
    }

    /// <summary>The first snapshot event of a stream, as its raw text.</summary>
    private static async Task<string> FirstEventAsync(HttpClient http, Uri events)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        using var request = new HttpRequestMessage(HttpMethod.Get, events);
        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token);
        response.EnsureSuccessStatusCode();
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(timeout.Token));
        var text = new System.Text.StringBuilder();
        while (await reader.ReadLineAsync(timeout.Token) is { } line)
        {
            text.AppendLine(line);
            if (line.StartsWith("data:", StringComparison.Ordinal))
            {
                using var parsed = JsonDocument.Parse(line["data:".Length..]);
                Assert.True(parsed.RootElement.TryGetProperty("candidates", out _), "a snapshot event without candidates");
                return text.ToString();
            }
        }

        throw new InvalidOperationException("the event stream ended before its first snapshot");
    }

    /// <summary>The history entry of <paramref name="nodeId"/>'s leadership with <paramref name="token"/>, or null.</summary>
    private static IWebElement? Led(HeadlessChromium browser, string nodeId, string token) =>
        browser.Driver.FindElements(By.CssSelector("#history li[data-kind='led']"))
            .FirstOrDefault(e => e.GetAttribute("data-node") == nodeId && e.GetAttribute("data-token") == token);

    private static async Task UntilAsync(HeadlessChromium browser, Func<bool> condition, string what) =>
        await UntilAsync<object>(browser, () => condition() ? new object() : null, what);

    private static async Task<T> UntilAsync<T>(HeadlessChromium browser, Func<T?> probe, string what)
        where T : class
    {
        try
        {
            return await Eventually.GetAsync(() => Task.FromResult(probe()), PageLimit, what, TimeSpan.FromMilliseconds(100));
        }
        catch (TimeoutException ex)
        {
            throw new TimeoutException($"{ex.Message}\nthe page shows:\n{browser.Driver.FindElement(By.TagName("body")).Text}", ex);
        }
    }
}
