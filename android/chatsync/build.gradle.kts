// The chatsync Android library module (AAR): the Rust core built by cargo-ndk into
// jniLibs, the UniFFI-generated Kotlin bindings, the platform-independent Kotlin
// layer (src/common/kotlin, also compiled and tested on the JVM by android/jvm-tests)
// and the thin Android glue (src/main/kotlin/dev/chatsync/android).
import org.gradle.api.tasks.Exec

plugins {
    id("com.android.library")
    id("org.jetbrains.kotlin.android")
}

val repoRoot = rootDir.parentFile
val cargoProfile = (findProperty("chatsync.cargoProfile") as String?) ?: "release-ffi"
val jniLibsDir = layout.buildDirectory.dir("rustJniLibs")
val bindingsDir = layout.buildDirectory.dir("generated/uniffi")

android {
    namespace = "dev.chatsync"
    compileSdk = 36
    ndkVersion = "28.2.13676358"

    defaultConfig {
        minSdk = 24
        consumerProguardFiles("consumer-rules.pro")
    }

    sourceSets["main"].apply {
        java.srcDirs("src/common/kotlin", "src/main/kotlin", bindingsDir.get().asFile)
        jniLibs.srcDir(jniLibsDir.get().asFile)
    }

    compileOptions {
        sourceCompatibility = JavaVersion.VERSION_17
        targetCompatibility = JavaVersion.VERSION_17
    }
}

kotlin {
    jvmToolchain(17)
}

dependencies {
    // JNA as an AAR: it carries libjnidispatch.so for every Android ABI.
    implementation("net.java.dev.jna:jna:5.19.1@aar")
    implementation("org.jetbrains.kotlinx:kotlinx-coroutines-android:1.10.2")
    implementation("androidx.lifecycle:lifecycle-process:2.9.4")
    implementation("androidx.work:work-runtime-ktx:2.10.5")
}

// 1. The native libraries for the three ABIs, with cargo-ndk (`cargo install cargo-ndk`;
//    `rustup target add aarch64-linux-android armv7-linux-androideabi x86_64-linux-android`).
//    LTO needs `cargo rustc --crate-type cdylib`, so cargo-ndk wraps `rustc` here.
val cargoNdk by tasks.registering(Exec::class) {
    workingDir = repoRoot
    commandLine(
        "cargo", "ndk",
        "-t", "arm64-v8a", "-t", "armeabi-v7a", "-t", "x86_64",
        "-o", jniLibsDir.get().asFile.absolutePath,
        "rustc", "--profile", cargoProfile, "-p", "chatsync-ffi", "--lib", "--crate-type", "cdylib",
    )
}

// 2. The Kotlin bindings, generated from the unstripped arm64 library (library mode reads
//    metadata that stripping removes; the Android Gradle plugin strips jniLibs when packaging).
val generateBindings by tasks.registering(Exec::class) {
    dependsOn(cargoNdk)
    workingDir = repoRoot
    commandLine(
        "cargo", "run", "-q", "-p", "chatsync-uniffi-bindgen", "--bin", "uniffi-bindgen", "--",
        "generate", "--library", jniLibsDir.get().file("arm64-v8a/libchatsync_ffi.so").asFile.absolutePath,
        "--language", "kotlin", "--out-dir", bindingsDir.get().asFile.absolutePath, "--no-format",
    )
}

tasks.named("preBuild") { dependsOn(generateBindings) }
