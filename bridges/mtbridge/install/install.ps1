#Requires -RunAsAdministrator
<#
.SYNOPSIS
Installs mtbridge on Windows as a service, in one command, from a copy of the repository.

.DESCRIPTION
In PowerShell run as Administrator (Windows PowerShell 5.1 or PowerShell 7):

    powershell -ExecutionPolicy Bypass -File bridges\mtbridge\install\install.ps1 [-WithMySQL] [-ManagerAPI] [-AllowFrom <mtsync host>]

What it does (bridge-protocol/bridges.md walks through it):
- checks for Python 3.11 or later installed for all users (the py launcher's "py -3", or -Python);
- makes a venv in C:\Program Files\mtbridge and installs the bridge with pywin32 (plus PyMySQL with -WithMySQL,
  MetaQuotes' MT5Manager with -ManagerAPI); pip downloads those unless -FindLinks names a folder of wheels;
- registers the Windows service "mtbridge" (pywin32's pythonservice.exe; mtbridge\windows_service.py says why),
  running as its own virtual account NT SERVICE\mtbridge, started automatically (delayed), restarted on failure;
- makes C:\ProgramData\mtbridge readable by SYSTEM, Administrators and the service only (logs\ and state\ writable
  by the service), with an example mtbridge.toml and a fresh key, each written only when missing (the key is
  shown once);
- with -AllowFrom, admits the mtsync host (and no one else) to the listen port in Windows Firewall;
- checks the configuration and starts the service when it checks out.
Running it again upgrades the bridge in place and keeps the configuration and the key.

.EXAMPLE
powershell -ExecutionPolicy Bypass -File bridges\mtbridge\install\install.ps1 -WithMySQL -AllowFrom 10.1.2.3
#>
[CmdletBinding()]
param(
    # Install PyMySQL: source.kind "mt5-sql-export" or "mt4-report-server" (automatic when the configuration names one).
    [switch]$WithMySQL,
    # Install MetaQuotes' MT5Manager: source.kind "mt5-manager" (64-bit Python of a version MetaQuotes built it for).
    [switch]$ManagerAPI,
    # Where the venv goes; the command is <Prefix>\Scripts\mtbridge.exe.
    [string]$Prefix = (Join-Path $env:ProgramFiles 'mtbridge'),
    # Configuration, key, logs\ and state\.
    [string]$DataDir = (Join-Path $env:ProgramData 'mtbridge'),
    # A python.exe of 3.11 or later; default: what "py -3" runs.
    [string]$Python = '',
    # The key id written into a new configuration (default mtbridge-<computer name>).
    [string]$KeyId = '',
    # The mtsync host(s), addresses or subnets: an inbound firewall rule admits them, and only them, to the listen port.
    [string[]]$AllowFrom = @(),
    # A folder of wheels (pywin32, PyMySQL, MT5Manager) for a host without network.
    [string]$FindLinks = '',
    # Install and register, but do not start the service.
    [switch]$NoStart,
    # Stop and remove the service, its firewall rule and the venv; keep the configuration, the key and the logs.
    [switch]$Uninstall,
    # With -Uninstall: remove DataDir too (the key and the configuration are lost).
    [switch]$Purge
)

Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'
$ServiceName = 'mtbridge'
$ServiceAccount = "NT SERVICE\$ServiceName"
$FirewallRule = 'mtbridge-in'
$SourceDir = Split-Path -Parent $PSScriptRoot          # bridges\mtbridge
$VenvPython = Join-Path $Prefix 'Scripts\python.exe'
$Command = Join-Path $Prefix 'Scripts\mtbridge.exe'
$Config = Join-Path $DataDir 'mtbridge.toml'
$KeyFile = Join-Path $DataDir 'key'
$Utf8 = New-Object System.Text.UTF8Encoding($false)    # TOML must not start with a byte order mark

function Say([string]$Text) { Write-Host "mtbridge install: $Text" }

# Runs a program and stops the installation when it fails (Windows PowerShell does not do that for programs).
function Invoke-Checked([string]$What, [string]$Program, [string[]]$Arguments) {
    & $Program @Arguments
    if ($LASTEXITCODE -ne 0) { throw "mtbridge install: $What failed (exit $LASTEXITCODE)" }
}

function Get-TomlValue([string]$Table, [string]$Key) {
    if (-not (Test-Path $Config) -or -not (Test-Path $VenvPython)) { return '' }
    # No double quotes inside -c: Windows PowerShell 5.1 does not escape them for a program's command line.
    $value = & $VenvPython -c 'import sys, tomllib; print(tomllib.load(open(sys.argv[1], ''rb'')).get(sys.argv[2], {}).get(sys.argv[3], ''''))' $Config $Table $Key
    if ($LASTEXITCODE -ne 0) { return '' }
    return "$value".Trim()
}

# Stops the service if it runs; says whether it did.
function Stop-Bridge {
    $service = Get-Service -Name $ServiceName -ErrorAction SilentlyContinue
    if ($service -and $service.Status -ne 'Stopped') {
        Say 'stopping the running service'
        Stop-Service -Name $ServiceName -Force
        $service.WaitForStatus('Stopped', [TimeSpan]::FromSeconds(60))
        return $true
    }
    return $false
}

# --- uninstall ------------------------------------------------------------------------------------------------------
if ($Uninstall) {
    Stop-Bridge | Out-Null
    if (Get-Service -Name $ServiceName -ErrorAction SilentlyContinue) {
        Invoke-Checked 'removing the service' 'sc.exe' @('delete', $ServiceName)
        Say 'removed the service'
    }
    Get-NetFirewallRule -Name $FirewallRule -ErrorAction SilentlyContinue | Remove-NetFirewallRule
    if (Test-Path (Join-Path $Prefix 'pyvenv.cfg')) {
        Remove-Item -Recurse -Force $Prefix
        Say "removed $Prefix"
    }
    if ($Purge) {
        if (Test-Path $DataDir) { Remove-Item -Recurse -Force $DataDir }
        Say "removed $DataDir (the key and the configuration are gone)"
    } else {
        Say "kept $DataDir (configuration, key, logs); -Uninstall -Purge removes it"
    }
    exit 0
}

if ($KeyId -and $KeyId -notmatch '^[A-Za-z0-9._:-]{1,64}$') { throw "mtbridge install: -KeyId: 1 to 64 letters, digits, '.', '_', ':' or '-'" }

# --- Python -----------------------------------------------------------------------------------------------------------
if (-not $Python) {
    if (-not (Get-Command py -ErrorAction SilentlyContinue)) {
        throw 'mtbridge install: no Python found: install Python 3.11 or later from python.org for all users (Customize installation > "Install Python for all users"; the py launcher comes with it), or name a python.exe with -Python'
    }
    $Python = (& py -3 -c 'import sys; print(sys.executable)' | Select-Object -First 1)
    if ($LASTEXITCODE -ne 0 -or -not $Python) { throw 'mtbridge install: "py -3" found no Python 3: install Python 3.11 or later for all users, or name one with -Python' }
    $Python = "$Python".Trim()
}
& $Python -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)'
if ($LASTEXITCODE -ne 0) { throw "mtbridge install: $Python is older than 3.11: mtbridge needs Python 3.11 or later (tomllib)" }
$BasePython = ("$(& $Python -c 'import sys; print(sys.base_exec_prefix)')").Trim()
# The service's account must be able to read the base Python (pythonXY.dll, the standard library): a per-user
# install under C:\Users is out of its reach.
$UsersRoot = Join-Path $env:SystemDrive 'Users'
if ($BasePython.StartsWith($UsersRoot, [StringComparison]::OrdinalIgnoreCase)) {
    throw "mtbridge install: $BasePython is a per-user Python, which a service cannot read: install Python for all users (python.org installer: Customize installation > Install Python for all users), then run this again"
}
if ($ManagerAPI) {
    & $Python -c 'import struct, sys; sys.exit(0 if struct.calcsize(''P'') == 8 else 1)'
    if ($LASTEXITCODE -ne 0) { throw 'mtbridge install: -ManagerAPI needs a 64-bit Python: MetaQuotes ships MT5Manager for 64-bit Windows only' }
}
Say "Python: $Python"

# --- the venv and the package ------------------------------------------------------------------------------------------
$wasRunning = Stop-Bridge   # pip replaces files the running service holds open
if (-not (Test-Path $VenvPython)) {
    Invoke-Checked 'creating the venv' $Python @('-m', 'venv', $Prefix)
    Say "created the venv $Prefix"
}
if (-not $WithMySQL -and (Get-TomlValue 'source' 'kind') -in @('mt5-sql-export', 'mt4-report-server')) { $WithMySQL = $true }
if (-not $ManagerAPI -and (Get-TomlValue 'source' 'kind') -eq 'mt5-manager') { $ManagerAPI = $true }
$extras = @('windows')
if ($WithMySQL) { $extras += 'mysql' }
if ($ManagerAPI) { $extras += 'manager-api' }

# pip builds from a copy, so the clone stays clean and may be read-only.
$work = Join-Path ([IO.Path]::GetTempPath()) ("mtbridge-install-" + [Guid]::NewGuid().ToString('N'))
try {
    New-Item -ItemType Directory -Force -Path (Join-Path $work 'mtbridge\install'), (Join-Path $work 'mtbridge\mtbridge') | Out-Null
    Copy-Item (Join-Path $SourceDir 'pyproject.toml'), (Join-Path $SourceDir 'README.md') (Join-Path $work 'mtbridge')
    Copy-Item (Join-Path $SourceDir 'install\mtbridge_build.py') (Join-Path $work 'mtbridge\install')
    Copy-Item (Join-Path $SourceDir 'mtbridge\*.py') (Join-Path $work 'mtbridge\mtbridge')
    $pipArguments = @('-m', 'pip', 'install', '--disable-pip-version-check', '--no-input', '--upgrade')
    if ($FindLinks) { $pipArguments += @('--no-index', '--find-links', $FindLinks) }
    $pipArguments += ((Join-Path $work 'mtbridge') + '[' + ($extras -join ',') + ']')
    Invoke-Checked 'pip install (without network, give -FindLinks with the pywin32, PyMySQL and MT5Manager wheels)' $VenvPython $pipArguments
} finally {
    Remove-Item -Recurse -Force $work -ErrorAction SilentlyContinue
}
$version = (& $Command --version)
Say "installed $version in $Prefix with $($extras -join ', ')"

# --- the service -------------------------------------------------------------------------------------------------------
# pywin32 registers the class, copies pythonservice.exe into the venv and pywintypesXY.dll beside pythonXY.dll;
# "install" updates a service that already exists.
Invoke-Checked 'registering the service' $VenvPython @('-m', 'mtbridge.windows_service', "--config=$Config", '--startup', 'delayed', 'install')
# Its own virtual account: no password, no rights beyond what the ACLs below give it.
Invoke-Checked 'setting the service account' 'sc.exe' @('config', $ServiceName, 'obj=', $ServiceAccount, 'start=', 'delayed-auto')
Invoke-Checked 'setting the service SID' 'sc.exe' @('sidtype', $ServiceName, 'unrestricted')
# Restart on failure (10 s, 30 s, then every 60 s; the count resets after a day without failure), also when the
# service stops itself with an error (failureflag), as it does on a bad configuration.
Invoke-Checked 'setting the recovery actions' 'sc.exe' @('failure', $ServiceName, 'reset=', '86400', 'actions=', 'restart/10000/restart/30000/restart/60000')
Invoke-Checked 'setting the recovery flag' 'sc.exe' @('failureflag', $ServiceName, '1')
# pythonservice.exe in the venv loads pythonXY.dll and pywintypesXY.dll from the base Python's folder: put it on the
# service's own PATH, whatever the machine's PATH says.
$servicePath = "PATH=$BasePython;$env:SystemRoot\System32;$env:SystemRoot;$env:SystemRoot\System32\Wbem"
New-ItemProperty -Path "HKLM:\SYSTEM\CurrentControlSet\Services\$ServiceName" -Name 'Environment' -PropertyType MultiString -Value @($servicePath) -Force | Out-Null
Say "registered the service $ServiceName (account $ServiceAccount, automatic delayed start, restart on failure)"

# --- configuration, key, logs, state ------------------------------------------------------------------------------------
foreach ($folder in @($DataDir, (Join-Path $DataDir 'logs'), (Join-Path $DataDir 'state'))) {
    New-Item -ItemType Directory -Force -Path $folder | Out-Null
}
# SYSTEM (S-1-5-18) and Administrators (S-1-5-32-544) by SID, so the names' language does not matter; nothing
# inherited from ProgramData (whose Users may read); the service reads, and writes only its logs and state.
Invoke-Checked 'setting the folder ACL' 'icacls.exe' @($DataDir, '/inheritance:r', '/grant:r', '*S-1-5-18:(OI)(CI)F', '*S-1-5-32-544:(OI)(CI)F', "${ServiceAccount}:(OI)(CI)RX", '/q')
foreach ($folder in @('logs', 'state')) {
    Invoke-Checked "setting the $folder ACL" 'icacls.exe' @((Join-Path $DataDir $folder), '/grant', "${ServiceAccount}:(OI)(CI)M", '/q')
}
# Its program folder: readable by every user already; said explicitly for the service, so that no hardened default
# ACL on Program Files can keep it from its own code.
Invoke-Checked 'setting the program folder ACL' 'icacls.exe' @($Prefix, '/grant', "${ServiceAccount}:(OI)(CI)RX", '/q')
$dataForToml = $DataDir -replace '\\', '/'   # TOML basic strings: forward slashes need no escaping, and Windows takes them
if (-not (Test-Path $Config)) {
    if (-not $KeyId) { $KeyId = "mtbridge-$($env:COMPUTERNAME.ToLowerInvariant())" }
    $example = [IO.File]::ReadAllText((Join-Path $PSScriptRoot 'mtbridge.example.toml'), $Utf8)
    $example = $example.Replace('/etc/mtbridge/mtbridge.toml', "$dataForToml/mtbridge.toml")
    $example = $example.Replace('/opt/mtbridge/bin/mtbridge', ($Command -replace '\\', '/'))
    $example = $example.Replace('/var/lib/mtbridge/', "$dataForToml/state/").Replace('/etc/mtbridge/', "$dataForToml/")
    $example = $example.Replace('key_id = "mtsync-1"', "key_id = `"$KeyId`"")
    [IO.File]::WriteAllText($Config, $example, $Utf8)
    Say "wrote the example configuration $Config`: edit it (server, source) before the service can start"
} else {
    Say "kept the configuration $Config"
}
if (-not (Test-Path $KeyFile)) {
    $bytes = New-Object byte[] 32
    $random = [Security.Cryptography.RandomNumberGenerator]::Create()
    $random.GetBytes($bytes)
    $random.Dispose()
    $hex = -join ($bytes | ForEach-Object { $_.ToString('x2') })
    [IO.File]::WriteAllText($KeyFile, "$hex`n", $Utf8)
    $keyIdNow = Get-TomlValue 'auth' 'key_id'
    if (-not $keyIdNow) { $keyIdNow = "(auth.key_id in $Config)" }
    Write-Host ''
    Write-Host "A new shared key is in $KeyFile (readable by SYSTEM, Administrators and the service only)."
    Write-Host "Give mtsync's operator, over a channel you trust, the key id and the key:"
    Write-Host "  key id: $keyIdNow"
    Write-Host "  key:    $hex"
    Write-Host "They go into mtsync.yaml as servers[].bridge.key_id and into the file its key_file names (mode 600)."
    Write-Host 'This is the only time the installer shows the key; it is never logged.'
    Write-Host ''
} else {
    Say "kept the key $KeyFile"
}

# --- firewall ----------------------------------------------------------------------------------------------------------
$listen = Get-TomlValue 'listen' 'address'
if (-not $listen) { $listen = '127.0.0.1:7465' }
$port = $listen.Substring($listen.LastIndexOf(':') + 1)
if ($AllowFrom.Count -gt 0) {
    Get-NetFirewallRule -Name $FirewallRule -ErrorAction SilentlyContinue | Remove-NetFirewallRule
    New-NetFirewallRule -Name $FirewallRule -DisplayName 'mtbridge (mtsync only)' -Direction Inbound -Action Allow `
        -Protocol TCP -LocalPort $port -RemoteAddress $AllowFrom -Profile Any | Out-Null
    Say "Windows Firewall admits $($AllowFrom -join ', ') to TCP port $port, and no one else"
} elseif (-not (Get-NetFirewallRule -Name $FirewallRule -ErrorAction SilentlyContinue)) {
    Say "no firewall rule yet: run this again with -AllowFrom <mtsync host address> to admit mtsync to port $port"
}

# --- check and start ---------------------------------------------------------------------------------------------------
# Checked as the administrator running this, not as the service account: the ACLs above are what let the service read.
& $Command --config $Config --check-config
if ($LASTEXITCODE -eq 0) {
    if ($NoStart) {
        Say "the configuration checks out; start the service with: Start-Service $ServiceName"
    } else {
        Start-Service -Name $ServiceName
        Say "the service is running: Get-Service $ServiceName; log: $DataDir\logs\mtbridge.log and the Application event log (source $ServiceName)"
    }
} elseif ($wasRunning -and -not $NoStart) {
    # It ran before this upgrade: a source that is down for a while is no reason to leave it stopped (it answers
    # mtsync with mt_unavailable until the source is back, and Windows restarts it if the file is what fails).
    Start-Service -Name $ServiceName
    Say "the check failed (the lines above say why), but the service ran before this upgrade and is running again: fix $Config"
} else {
    Say "the service is installed but not started: fix $Config (the lines above say what), then"
    Say "  & '$Command' --config '$Config' --check-config; Start-Service $ServiceName"
}
