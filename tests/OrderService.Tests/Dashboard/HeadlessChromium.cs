using OpenQA.Selenium;
using OpenQA.Selenium.Chrome;

namespace Pipeline.OrderService.Tests.Dashboard;

/// <summary>Debian's Chromium, headless, driven through Debian's chromedriver (both installed by scripts/services; no test
/// tool may download a browser here). A fresh profile each time, and none of the background traffic this machine's closed
/// network would refuse.</summary>
public sealed class HeadlessChromium : IDisposable
{
    private readonly string profile = Directory.CreateTempSubdirectory("pipeline-chromium-").FullName;

    public HeadlessChromium()
    {
        var browser = Environment.GetEnvironmentVariable("PIPELINE_CHROMIUM") ?? "/usr/bin/chromium";
        var driverPath = Environment.GetEnvironmentVariable("PIPELINE_CHROMEDRIVER") ?? "/usr/bin/chromedriver";
        if (!File.Exists(browser) || !File.Exists(driverPath))
        {
            throw new InvalidOperationException($"No browser for the dashboard tests: {browser} or {driverPath} is missing. " +
                                                "`scripts/services up` installs Debian's chromium and chromium-driver (or set PIPELINE_CHROMIUM and PIPELINE_CHROMEDRIVER).");
        }

        var service = ChromeDriverService.CreateDefaultService(Path.GetDirectoryName(driverPath)!, Path.GetFileName(driverPath));
        service.SuppressInitialDiagnosticInformation = true;
        service.HideCommandPromptWindow = true;
        var options = new ChromeOptions { BinaryLocation = browser };
        options.AddArguments("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-extensions", "--window-size=1440,1280",
            $"--user-data-dir={profile}");
        Driver = new ChromeDriver(service, options, TimeSpan.FromSeconds(60));
    }

    public ChromeDriver Driver { get; }

    /// <summary>The text of the element with <paramref name="id"/>, or null while there is none.</summary>
    public string? Text(string id) => Driver.FindElements(By.Id(id)) is [var element, ..] ? element.Text : null;

    public object? Script(string script, params object[] args) => Driver.ExecuteScript(script, args);

    public void Dispose()
    {
        try
        {
            Driver.Quit();
        }
        finally
        {
            Driver.Dispose();
            try
            {
                Directory.Delete(profile, recursive: true);
            }
            catch (IOException)
            {
                // Chromium may still be writing its profile as it exits; the temp directory is the OS's to clear.
            }
        }
    }
}
