using System.Globalization;
using Pipeline.Testing;

namespace Pipeline.OrderService.Tests.Cli;

/// <summary>The command line as System.CommandLine checks it, before any service is reached: a wrong option or value is an
/// error naming it with exit code 2, help is generated per verb, and --Section:Key=value stays configuration.</summary>
public sealed class CliParsingTests
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(60);

    [Theory]
    [InlineData("--order", "publish", "--order", "5")]
    [InlineData("--orders-typo", "publish", "--orders-typo=5")]
    [InlineData("--jsn", "status", "--jsn")]
    [InlineData("--grant", "migrate", "--grant", "pipeline_service")]
    [InlineData("frobnicate", "frobnicate")]
    public async Task An_unknown_option_or_verb_is_exit_2_naming_it(string named, params string[] args)
    {
        await using var run = await CliProcess.RunAsync(CliProcess.NoServices(), Limit, args);
        Assert.True(run.ExitCode == 2, run.Describe());
        Assert.Contains($"'{named}", run.Stderr, StringComparison.Ordinal);
        Assert.Contains("--help", run.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", run.Stderr, StringComparison.Ordinal);
        Assert.Equal("", run.Stdout);
    }

    [Fact]
    public async Task No_verb_lists_the_verbs_on_stderr_with_exit_2()
    {
        await using var run = await CliProcess.RunAsync(CliProcess.NoServices(), Limit);
        Assert.True(run.ExitCode == 2, run.Describe());
        Assert.Contains("publish", run.Stderr, StringComparison.Ordinal);
        Assert.Contains("fence-reset", run.Stderr, StringComparison.Ordinal);
        Assert.Equal("", run.Stdout);
    }

    [Theory]
    [InlineData("--orders", "publish", "--orders", "many")]
    [InlineData("--orders", "publish", "--orders=0")]
    [InlineData("--orders", "publish", "--orders", "10000001")]
    [InlineData("--rate", "publish", "--rate=-1")]
    [InlineData("--invalid-ratio", "publish", "--invalid-ratio", "1.5")]
    [InlineData("--lines", "publish", "--lines", "51")]
    [InlineData("--skus", "seed", "--skus=0")]
    [InlineData("--timeout", "healthcheck", "--timeout", "61")]
    [InlineData("--prefix", "publish", "--orders", "1", "--prefix", "an-order-id-prefix-longer-than-the-intake-records-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx")]
    [InlineData("--reason", "fence-reset", "--confirm")]
    public async Task A_bad_or_out_of_range_value_is_exit_2_naming_the_option(string option, params string[] args)
    {
        await using var run = await CliProcess.RunAsync(CliProcess.NoServices(), Limit, args);
        Assert.True(run.ExitCode == 2, run.Describe());
        Assert.Contains(option, run.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", run.Stderr, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("run")]
    [InlineData("migrate")]
    [InlineData("seed")]
    [InlineData("publish")]
    [InlineData("status")]
    [InlineData("verify")]
    [InlineData("watch")]
    [InlineData("healthcheck")]
    [InlineData("fence-reset")]
    public async Task Every_verb_has_generated_help_with_the_settings_note(string verb)
    {
        await using var run = await CliProcess.RunAsync(CliProcess.NoServices(), Limit, verb, "--help");
        Assert.True(run.ExitCode == 0, run.Describe());
        Assert.Contains($"Pipeline.OrderService {verb} [options]", run.Stdout, StringComparison.Ordinal);
        Assert.Contains("--Section:Key=value", run.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_root_help_lists_every_verb_and_version_prints_one_line()
    {
        await using var help = await CliProcess.RunAsync(CliProcess.NoServices(), Limit, "--help");
        Assert.True(help.ExitCode == 0, help.Describe());
        foreach (var verb in new[] { "run", "migrate", "seed", "publish", "status", "verify", "watch", "healthcheck", "fence-reset" })
        {
            Assert.Contains($"  {verb} ", help.Stdout, StringComparison.Ordinal);
        }

        await using var version = await CliProcess.RunAsync(CliProcess.NoServices(), Limit, "--version");
        Assert.True(version.ExitCode == 0, version.Describe());
        Assert.Single(version.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    [Fact]
    public async Task A_configuration_override_is_not_an_option_and_reaches_the_verb()
    {
        // healthcheck asks the replica on Pipeline:HttpPort: the override's port in its answer shows it was applied.
        var port = FreePorts.Take(1)[0].ToString(CultureInfo.InvariantCulture);
        await using var run = await CliProcess.RunAsync(CliProcess.NoServices(), Limit, "healthcheck", $"--Pipeline:HttpPort={port}", "--timeout=2");
        Assert.True(run.ExitCode == 1, run.Describe());
        Assert.Contains($"http://127.0.0.1:{port}/health/ready", run.Stdout, StringComparison.Ordinal);
    }
}
